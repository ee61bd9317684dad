"""The layers of ARCHITECTURE.md hold in the code: lower layers never import upper ones."""

import ast
import os
import re

from conftest import ROOT

PACKAGE = os.path.join(ROOT, 'dec_chainer')


def layers():
    """{top-level module or subpackage: layer} from ARCHITECTURE.md's layer block."""
    with open(os.path.join(ROOT, 'ARCHITECTURE.md')) as f:
        text = f.read()
    block = re.search(r'<!-- layers[^>]*-->\s*```\n(.*?)```', text, re.S).group(1)
    table = {}
    for line in block.strip().splitlines():
        level, *names = line.split()
        for name in names:
            assert name not in table, '{} is listed twice'.format(name)
            table[name] = int(level)
    return table


def modules():
    """Every module file of the package, as (dotted name, path)."""
    for d, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith('.py'):
                rel = os.path.relpath(os.path.join(d, f), ROOT)[:-3].replace(os.sep, '.')
                yield rel[:-len('.__init__')] if rel.endswith('.__init__') else rel, \
                    os.path.join(d, f)


def is_module(dotted):
    path = os.path.join(ROOT, *dotted.split('.'))
    return os.path.isfile(path + '.py') or os.path.isdir(path)


def imported(path, name):
    """The dec_chainer modules ``path`` imports, anywhere in it (functions included)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1]
                                + ([base] if base else []))
            targets = [base + '.' + a.name if is_module(base + '.' + a.name) else base
                       for a in node.names]
        else:
            continue
        yield from (t for t in targets if t == 'dec_chainer' or t.startswith('dec_chainer.'))


def top(dotted):
    return dotted.split('.')[1] if dotted.count('.') else None


def test_every_module_is_in_a_layer():
    table = layers()
    tops = {top(name) for name, _ in modules()} - {None}
    assert tops == set(table), 'ARCHITECTURE.md lists {}, the package has {}'.format(
        sorted(set(table) - tops), sorted(tops - set(table)))


def test_lower_layers_never_import_upper_ones():
    table = layers()
    wrong = []
    for name, path in modules():
        if name == 'dec_chainer':
            continue  # the package's façade
        mine = table[top(name)]
        for target in imported(path, name):
            if target == 'dec_chainer':
                wrong.append('{} imports the package façade (import a module)'.format(name))
            elif table[top(target)] > mine:
                wrong.append('{} (layer {}) imports {} (layer {})'.format(
                    name, mine, target, table[top(target)]))
    assert not wrong, '\n'.join(wrong)


def test_the_check_sees_lazy_and_relative_imports(tmp_path):
    """The import walker finds imports inside functions and resolves them: the check
    above can fail."""
    path = os.path.join(PACKAGE, 'training', 'pretrain.py')
    found = set(imported(path, 'dec_chainer.training.pretrain'))
    assert 'dec_chainer.links' in found and 'dec_chainer._files' in found
    fake = tmp_path / 'mod.py'
    fake.write_text('def f():\n    from dec_chainer import experiment\n')
    assert set(imported(str(fake), 'dec_chainer.kmeans')) == {'dec_chainer.experiment'}
