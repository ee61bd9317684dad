"""The layers of ARCHITECTURE.md hold in the code: lower layers never import upper ones."""

import ast
import glob
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


def where_named():
    """{name: set of modules} from ARCHITECTURE.md's block of where ``comm`` and
    ``scratch`` may appear."""
    with open(os.path.join(ROOT, 'ARCHITECTURE.md')) as f:
        text = f.read()
    block = re.search(r'<!-- where[^>]*-->\s*```\n(.*?)```', text, re.S).group(1)
    return {name: {'dec_chainer.' + m for m in mods}
            for name, *mods in (line.split() for line in block.strip().splitlines())}


def names_in(path):
    """Every identifier ``path`` uses: names, attributes, parameters, keyword arguments."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.keyword) and node.arg:
            found.add(node.arg)
    return found


def test_the_communicator_and_scratch_storage_stay_where_the_architecture_says():
    """MPI and data on disk enter the code in the modules ARCHITECTURE.md names for them;
    everywhere else they travel inside the run context."""
    allowed = where_named()
    for name, path in modules():
        used = names_in(path)
        for what, where in allowed.items():
            assert what not in used or name in where, \
                '{} uses {!r}; ARCHITECTURE.md allows it only in {}'.format(
                    name, what, ', '.join(sorted(where)))
    # and the check sees them where they are
    assert 'comm' in names_in(os.path.join(PACKAGE, 'distributed.py'))
    assert 'scratch' in names_in(os.path.join(PACKAGE, 'training', 'context.py'))


#: Functions allowed more than 10 parameters, with why.
MANY_PARAMETERS = {
    # scikit-learn's contract: an estimator's constructor parameters are its
    # hyperparameters, each a keyword with a default (get_params/set_params/clone)
    'dec_chainer.estimator.DEC.__init__',
}


def functions():
    """(qualified name, lines of code without the docstring, parameters) of every function
    and method of the package."""
    for name, path in modules():
        with open(path) as f:
            tree = ast.parse(f.read())
        scopes = [(tree, name)]
        while scopes:
            node, prefix = scopes.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef):
                    scopes.append((child, prefix + '.' + child.name))
                elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = child.end_lineno - child.lineno + 1
                    first = child.body[0]
                    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                            and isinstance(first.value.value, str):
                        lines -= first.end_lineno - first.lineno + 1
                    a = child.args
                    params = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
                    params = params[1:] if params[:1] in (['self'], ['cls']) else params
                    count = len(params) + bool(a.vararg) + bool(a.kwarg)
                    yield prefix + '.' + child.name, lines, count
                    scopes.append((child, prefix + '.' + child.name))


def test_no_function_is_longer_than_60_lines_or_takes_more_than_10_parameters():
    """Each function reads top to bottom: at most 60 lines of code (its docstring not
    counted) and 10 parameters (not counting self)."""
    seen = list(functions())
    long = [(n, lines) for n, lines, _ in seen if lines > 60]
    many = [(n, count) for n, _, count in seen if count > 10 and n not in MANY_PARAMETERS]
    assert not long, long
    assert not many, many
    assert len(seen) > 300 and any(n.endswith('runs.fit_dec') for n, _, _ in seen)


def test_scripts_use_the_public_api():
    """No script under scripts/ reaches a private module or name of dec_chainer."""
    import re
    private = re.compile(r'dec_chainer(\.\w+)*\._\w|from dec_chainer(\.\w+)* import .*\b_\w')
    for path in sorted(glob.glob(os.path.join(ROOT, 'scripts', '*.py'))):
        with open(path) as f:
            for n, line in enumerate(f, 1):
                assert not private.search(line), '{}:{}: {}'.format(path, n, line.strip())
