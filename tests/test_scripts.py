"""Every Python script under scripts/ starts and documents itself (``--help``): an import
error or a broken argument parser in a script nobody runs in the suite shows here."""

import glob
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPTS = sorted(glob.glob(os.path.join(ROOT, 'scripts', '*.py')))


def test_every_script_is_listed():
    names = {os.path.basename(p) for p in SCRIPTS}
    assert {'bench_kl.py', 'bench_train.py', 'run_ablation.py', 'ship_pretrained.py',
            'summarize_results.py'} <= names


@pytest.mark.parametrize('script', SCRIPTS, ids=os.path.basename)
def test_script_help(script):
    r = subprocess.run([sys.executable, script, '--help'], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('usage: ') and '--help' in r.stdout
