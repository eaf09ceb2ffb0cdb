#!/usr/bin/env python3
"""The reference for daemon/engine/stats.cc: scipy.stats.mannwhitneyu on the cases in IN.

Usage: mannwhitneyu.py IN OUT

IN is JSON {"cases": [{"x": [...], "y": [...], "alternative": "two-sided"|"less"|"greater"}]}.
OUT gets {"scipy": version, "results": [{"statistic": U1, "pvalue": p, "method": m}]}, one result
per case in order; "method" is what method="auto" chose ("exact" or "asymptotic"), or null when
this SciPy's private chooser is not where 1.10 keeps it.

Exit status 77 when SciPy cannot be imported (the C++ test then skips and names python3-scipy);
any other failure is an error.
"""
import json
import sys

try:
    import numpy as np
    import scipy
    from scipy import stats
except ImportError as e:
    print(f"mannwhitneyu.py: {e} (Debian: apt-get install python3-scipy)", file=sys.stderr)
    sys.exit(77)

try:
    from scipy.stats._mannwhitneyu import _mwu_choose_method
except ImportError:
    _mwu_choose_method = None


def main(argv):
    if len(argv) != 3:
        print("usage: mannwhitneyu.py IN OUT", file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        cases = json.load(f)["cases"]
    results = []
    for case in cases:
        x = np.asarray(case["x"], dtype=float)
        y = np.asarray(case["y"], dtype=float)
        res = stats.mannwhitneyu(x, y, alternative=case["alternative"], method="auto",
                                 use_continuity=True)
        method = None
        if _mwu_choose_method is not None:
            method = _mwu_choose_method(len(x), len(y), np.concatenate((x, y)), "auto")
        results.append({"statistic": float(res.statistic), "pvalue": float(res.pvalue),
                        "method": method})
    with open(argv[2], "w") as f:
        json.dump({"scipy": scipy.__version__, "results": results}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
