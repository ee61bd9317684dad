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


def test_full_runs_speed_tables_match_their_stage_logs():
    """Each full run that keeps its stage logs shows, in its README, the speed table made
    from them."""
    runs = [d for d in sorted(os.listdir(RESULTS))
            if os.path.isdir(os.path.join(RESULTS, d, 'stage-logs'))]
    assert 'paper' in runs
    for d in runs:
        table = summarize.speeds(os.path.join(RESULTS, d))
        assert '| layer4 (2000-10-2000) | 50,000 |' in table
        with open(os.path.join(RESULTS, d, 'README.md')) as f:
            assert table in f.read(), (
                'results/{0}/README.md is out of date: regenerate its speed table with '
                '.venv/bin/python scripts/summarize_results.py --speeds results/{0}'.format(d))


def test_stretch_paces():
    log = [{'iteration': 1000, 'elapsed_time': 8.0}, {'iteration': 2000, 'elapsed_time': 20.0},
           {'iteration': 2500, 'elapsed_time': 22.5}]
    assert summarize.stretch_paces(log) == [8.0, 12.0, 5.0]


def test_fraction_labels():
    assert summarize._fraction(1) == 'as published'
    assert summarize._fraction(0.1) == '1/10'
    assert summarize._fraction(0.25) == '1/4'
    assert summarize._fraction(0.3) == '0.3x'


#: The run each row of results/README.md's figure gallery shows: its figures' directory and
#: its report.
GALLERY = {'reproducibility': 'reproducibility/quick-mnist-seed0-skylakex.json',
           'paper': 'paper/paper-mnist-seed0.json',
           'article': 'article/article-mnist-seed0.json',
           'original': 'original/original-mnist-seed0.json'}


def test_the_figure_gallery_labels_are_the_shown_runs_accuracies():
    """Each gallery row's DEC ACC label is its report's (labels written by hand drifted:
    0.840 and 0.650 stayed after the runs shown became 0.8419 and 0.6547)."""
    import json
    import re
    with open(os.path.join(RESULTS, 'README.md')) as f:
        rows = [line for line in f if line.startswith('| ') and 'figures/tsne.png' in line]
    seen = set()
    for row in rows:
        where = re.search(r'src="(\w+)/figures/tsne\.png"', row).group(1)
        label = re.search(r'\((?:DEC ACC )?(\d\.\d{3})\)', row).group(1)
        with open(os.path.join(RESULTS, GALLERY[where])) as f:
            acc = json.load(f)['metrics']['dec']['acc']
        assert label == '{:.3f}'.format(acc), (where, label, acc)
        seen.add(where)
    assert seen == set(GALLERY)


def test_verdicts_are_within_one_point_of_the_published_number():
    assert summarize.verdict(0.8419, 'dec').startswith('reproduced (-0.11 points against '
                                                       'the published 84.30 %)')
    assert summarize.verdict(0.8531, 'dec').startswith('not reproduced (+1.01 points')
    assert summarize.verdict(0.7880, 'dec_no_backprop').startswith('not reproduced (-1.02')


def test_the_readme_states_the_committed_lambda_protocol():
    """The README's sentences on the update intervals and the k-means starts give what
    lambda.json and seeds.json say: how many ran, the best DEC ACC and its lambda; the
    five starts' mean and sd."""
    import json
    import re
    path = os.path.join(RESULTS, 'paper', 'protocol', 'lambda.json')
    with open(path) as f:
        rows = json.load(f)['rows']
    best = max(rows, key=lambda r: r['acc'])
    with open(os.path.join(ROOT, 'README.md')) as f:
        m = re.search(r'best of the (\d) update intervals(?: run so far)?[^.]*?DEC ACC '
                      r'(0\.\d{4}) at lambda = (\d+)', f.read().replace('\n', ' '))
    assert m, 'README.md does not state the lambda protocol'
    assert (int(m.group(1)), m.group(2), int(m.group(3))) == (
        len(rows), '{:.4f}'.format(best['acc']), best['lambda'])
    with open(os.path.join(RESULTS, 'paper', 'protocol', 'seeds.json')) as f:
        summary = json.load(f)['summary']
    with open(os.path.join(ROOT, 'README.md')) as f:
        m = re.search(r'five k-means starts at lambda = (\d+) give DEC ACC (0\.\d{4}) ± '
                      r'(0\.\d{4})', ' '.join(f.read().split()))
    assert m, 'README.md does not state the five k-means starts'
    assert any(line.startswith('lambda = {}: DEC ACC {} +- {} (n = 5)'.format(*m.groups()))
               for line in summary)


def test_choose_k_and_imbalance_sections_say_what_their_pages_hold(tmp_path):
    """The overview's K-selection and imbalance sections: the chosen K against the paper's
    10, the K of the highest ACC, on how many subsets DEC beat each baseline, and which
    command made which subset's row."""
    import json
    prov = {'command': 'x', 'machine': {'cpu': 'c', 'cores': 2}, 'blas': [],
            'git_commit': 'abc'}
    rows = [dict(n_clusters=k, generalizability=g, l_train=0.1, l_validation=0.1 / g,
                 nmi=n, acc=a) for k, g, n, a in ((9, 1.0, 0.81, 0.80), (10, 0.99, 0.8, 0.84),
                                                  (11, 0.7, 0.79, 0.83))]
    (tmp_path / 'paper' / 'protocol').mkdir(parents=True)
    (tmp_path / 'imbalance').mkdir()
    (tmp_path / 'paper' / 'protocol' / 'choose-k.json').write_text(json.dumps(dict(
        rows=rows, choice=10, n_train=60000, n_held_out=10000, dataset='mnist', seed=0,
        pretrained='results/pretrained/x', provenance=prov, wall_seconds=60)))
    subsets = [dict(r_min=r, n=100, smallest=5, largest=20, kmeans_acc=0.5, ae_acc=0.7,
                    acc=acc, nmi=0.6, iterations=10, seconds=60)
               for r, acc in ((0.1, 0.6), (0.5, 0.8))]
    subsets[1]['provenance'] = dict(prov, command='y')  # run by another command
    (tmp_path / 'imbalance' / 'imbalance-quick-seed0.json').write_text(json.dumps(dict(
        rows=subsets, dataset='mnist', seed=0, pretraining='the quick preset on each subset',
        provenance=prov, wall_seconds=60)))
    text = summarize.overview(str(tmp_path))
    assert 'K = 10; as many as the 10 digit classes' in text
    assert 'the K of the highest NMI: 9 (NMI 0.8100); of the highest ACC: 10 (ACC 0.8400' \
        in text
    assert 'DEC above AE+k-means on 1 of 2 subsets, above k-means on raw pixels on 2 of 2' \
        in text
    assert 'r_min = 0.1 made by `x`; machine: c (2 cores)' in text
    assert 'r_min = 0.5 made by `y`' in text


def test_protocol_tables_match_their_committed_reports_and_logs():
    """Each row of the committed protocol tables has its run's report and DEC log under
    results/paper/protocol/logs/ (and each imbalance row under results/imbalance/logs/),
    and says what they say: the DEC ACC of the report, the iterations of the log."""
    import glob
    import json

    def read(path):
        with open(path) as f:
            return json.load(f)
    base = os.path.join(RESULTS, 'paper', 'protocol')
    checked = 0
    for part in ('lambda', 'seeds', 'frozen'):
        for row in read(os.path.join(base, part + '.json'))['rows']:
            stem = os.path.join(base, 'logs', part, row['name'])
            assert read(stem + '.json')['metrics']['dec']['acc'] == row['acc']
            assert read(stem + '.dec_log.json')[-1]['iteration'] == row['iterations']
            checked += 1
    for row in read(os.path.join(base, 'choose-k.json'))['rows']:
        stem = os.path.join(base, 'logs', 'choose-k', 'k{}'.format(row['n_clusters']))
        log = read(stem + '.dec_log.json')
        assert read(stem + '.json')['iterations'] == log[-1]['iteration'] > 0
        checked += 1
    for page in glob.glob(os.path.join(RESULTS, 'imbalance', '*.json')):
        for row in read(page)['rows']:
            stem = os.path.join(RESULTS, 'imbalance', 'logs', 'rmin{:g}'.format(row['r_min']))
            assert read(stem + '.json')['metrics']['dec']['acc'] == row['acc']
            assert read(stem + '.dec_log.json')[-1]['iteration'] == row['iterations']
            checked += 1
    assert checked >= 9 + 5 + 1 + 9


def test_the_readme_states_the_committed_imbalance_table():
    """The README's sentence on the imbalanced subsets gives what the committed table says:
    how many subsets, which r_min, that DEC beat both baselines on each, and the DEC ACC at
    the smallest and largest r_min."""
    import json
    import re
    with open(os.path.join(RESULTS, 'imbalance', 'imbalance-quick-seed0.json')) as f:
        rows = sorted(json.load(f)['rows'], key=lambda r: r['r_min'])
    with open(os.path.join(ROOT, 'README.md')) as f:
        m = re.search(r'DEC beats both AE\+k-means and k-means on pixels on every one of the '
                      r'(\d) subsets run \(r_min = ([\d., ]+)\), its ACC from (0\.\d{4}) at '
                      r'r_min = ([\d.]+) to (0\.\d{4}) at r_min = ([\d.]+)',
                      ' '.join(f.read().split()))
    assert m, 'README.md does not state the imbalance table'
    assert all(r['acc'] > max(r['ae_acc'], r['kmeans_acc']) for r in rows)
    assert int(m.group(1)) == len(rows)
    assert [float(v) for v in m.group(2).split(', ')] == [r['r_min'] for r in rows]
    assert (m.group(3), float(m.group(4)), m.group(5), float(m.group(6))) == (
        '{:.4f}'.format(rows[0]['acc']), rows[0]['r_min'], '{:.4f}'.format(rows[-1]['acc']),
        rows[-1]['r_min'])
