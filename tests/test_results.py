"""The committed results: results/README.md's tables are what the committed JSON files say."""

import importlib.util
import os

from conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    'summarize_results', os.path.join(ROOT, 'scripts', 'summarize_results.py'))
summarize = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(summarize)

RESULTS = os.path.join(ROOT, 'results')


def test_results_readme_tables_match_the_committed_json():
    overview = summarize.overview(RESULTS)
    assert '| DEC, `quick` preset |' in overview
    with open(os.path.join(RESULTS, 'README.md')) as f:
        readme = f.read()
    assert overview in readme, ('results/README.md is out of date: regenerate its tables with '
                                '.venv/bin/python scripts/summarize_results.py --overview')


def test_fraction_labels():
    assert summarize._fraction(1) == 'as published'
    assert summarize._fraction(0.1) == '1/10'
    assert summarize._fraction(0.25) == '1/4'
    assert summarize._fraction(0.3) == '0.3x'
