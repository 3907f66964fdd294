"""The benchmarks' sample files, shared by their table scripts (table.py, boot-cycle.py,
migrate-bench.py): lines "SAMPLE key value" (value NA: that round failed) and "INFO
text". Rounds stay at their index, so the i-th samples of two keys are one round's."""


def load(path):
    """({key: [value or None, ...]}, [info text, ...]) of a sample file."""
    samples, info = {}, []
    for line in open(path):
        f = line.split()
        if len(f) >= 3 and f[0] == "SAMPLE":
            samples.setdefault(f[1], []).append(None if f[2] == "NA" else float(f[2]))
        elif f and f[0] == "INFO":
            info.append(line[5:].strip())
    return samples, info


def ratio(samples, a, b):
    """a[i] / b[i] for the rounds where both exist (and b is not 0)."""
    return [x / y for x, y in zip(samples.get(a, []), samples.get(b, []))
            if x is not None and y]
