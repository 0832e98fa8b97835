#!/usr/bin/env python3
"""Writes wmt17-en-de.tsv.bz2 from sacreBLEU's test/wmt17_en_de_systems.pkl.bz2.

sacreBLEU keeps WMT17 English-German system outputs and the newstest2017 reference in that
pickle (for its significance tests); its test.sh lists the scores Moses' mteval-v13a.pl and
chrF++.py give these systems. This script turns the pickle into a bzip2-compressed TSV that
Go's standard library reads: a header line naming the columns ("reference", then systems),
then one line per segment with the reference and each system's output, tab-separated (the
data has no tabs or newlines inside segments).

Usage, from this folder (Python 3 only, sacreBLEU not needed):

    git -C SACREBLEU_CHECKOUT show HEAD:test/wmt17_en_de_systems.pkl.bz2 > /tmp/wmt17.pkl.bz2
    python3 wmt17_extract.py /tmp/wmt17.pkl.bz2            # the systems the tests need
    python3 wmt17_extract.py /tmp/wmt17.pkl.bz2 --all      # all 16 systems (about 1.7 MB)
"""

import bz2
import pickle
import sys

# Systems kept by default: C-3MA and FBK have chrF and chrF++ values in test.sh, online-A
# starts with a byte-order mark, uedin-nmt is the best system, PROMT the rule-based one.
DEFAULT = [
    "newstest2017.C-3MA.4959.en-de",
    "newstest2017.FBK.4870.en-de",
    "newstest2017.online-A.0.en-de",
    "newstest2017.uedin-nmt.4722.en-de",
    "newstest2017.PROMT-Rule-based.4735.en-de",
]


class _DataOnly(pickle.Unpickler):
    """Unpickles lists, tuples and strings only: the pickle needs no classes."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def main():
    with bz2.open(sys.argv[1], "rb") as f:
        data = _DataOnly(f).load()
    systems = dict(data[:-1])
    name, refs = data[-1]
    assert name == "reference" and len(refs) == 1, name
    keep = list(systems) if "--all" in sys.argv[2:] else DEFAULT
    cols = [refs[0]] + [systems[s] for s in keep]
    n = len(cols[0])
    for c in cols:
        assert len(c) == n
        assert not any("\t" in x or "\n" in x or "\r" in x for x in c)
    with bz2.open("wmt17-en-de.tsv.bz2", "wt", encoding="utf-8", newline="\n") as out:
        out.write("\t".join(["reference"] + keep) + "\n")
        for i in range(n):
            out.write("\t".join(c[i] for c in cols) + "\n")


if __name__ == "__main__":
    main()
