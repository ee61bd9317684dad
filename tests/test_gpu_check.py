"""scripts/gpu_check.sh --cpu: the GPU check's steps, in order, each cut to a smoke test,
run to the end on the CPU and bring back at most 8 files (issue 24, third part)."""

import os
import subprocess

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_gpu_check_runs_every_step_on_the_cpu(tmp_path):
    out = tmp_path / 'gpu'
    r = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'gpu_check.sh'), '--cpu',
                        str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = sorted(os.listdir(out))
    assert files == ['bench_kl.json', 'bench_kl.md', 'check.log',
                     'paper-digits-seed0.dec_log.json', 'paper-digits-seed0.json',
                     'quick-digits-seed0.dec_log.json', 'quick-digits-seed0.json',
                     'summary.md']
    summary = (out / 'summary.md').read_text()
    for step in ('tests', 'bench_kl', 'quick', 'paper'):
        assert '| {} | '.format(step) in summary and 'exit 0 |' in summary
    assert 'quick-digits-seed0 on @numpy (digits): AE+k-means ACC' in summary
    log = (out / 'check.log').read_text()
    order = [log.index('== ' + step) for step in ('tests', 'bench_kl', 'quick', 'paper')]
    assert order == sorted(order)
