"""Where one uncached page spends its time: cProfile over repeated renders.

    .venv/bin/python bench/profile_page.py /compare/flask-vs-django/ [--count 30] [--sort tottime] [--edit]

Same set-up as bench/compare_before_after.py (debug off, real content plus the synthetic
10 x 100 subjects, the page cache emptied before each request). ``--edit``: before each render, one
claim of the first compared subject is edited as the admin saves it (not profiled): the first view
after a content change.
"""

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_before_after import _edit_one_claim, prepare


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--lines", type=int, default=45)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--edit", action="store_true", help="edit one claim before each render")
    args = parser.parse_args()
    client = prepare(args.root)
    from django.core.cache import cache

    for _ in range(3):
        cache.clear()
        assert client.get(args.url).status_code == 200
    profile = cProfile.Profile()
    for number in range(args.count):
        if args.edit:
            _edit_one_claim(args.url, number)
        cache.clear()
        profile.enable()
        client.get(args.url)
        profile.disable()
    pstats.Stats(profile).strip_dirs().sort_stats(args.sort).print_stats(args.lines)


if __name__ == "__main__":
    main()
