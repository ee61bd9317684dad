"""Tables for the command line and the committed results, and the published numbers they
are read against."""

import os

from dec_chainer import _files

#: Published MNIST results (Xie, Girshick & Farhadi 2016, Tables 2-3; DEC-keras's README):
#: name -> (ACC, source).
PUBLISHED_MNIST = {
    'kmeans': (0.5349, 'k-means on pixels (Xie et al., 2016)'),
    'ae_kmeans': (0.8184, 'AE+k-means (Xie et al., 2016)'),
    'dec_no_backprop': (0.7982, 'DEC without backprop (Xie et al., 2016)'),
    'dec': (0.8430, 'DEC, best of 9 update intervals (Xie et al., 2016)'),
    'dec_keras': (0.912, 'DEC-keras, mean of 10 runs'),
}


def published_line(keys=('kmeans', 'ae_kmeans', 'dec', 'dec_keras')):
    """``published MNIST ACC: ...`` for the command line."""
    return 'published MNIST ACC: ' + '; '.join(
        '{} {}'.format(PUBLISHED_MNIST[k][1], PUBLISHED_MNIST[k][0]) for k in keys)


def machine_line(prov):
    """``machine: CPU (N cores), BLAS: library version kernel xthreads, commit C`` of a
    :func:`~dec_chainer.provenance.provenance` dict: the line benchmark pages start with."""
    return 'machine: {} ({} cores), BLAS: {}, commit {}'.format(
        prov['machine']['cpu'], prov['machine']['cores'],
        ', '.join('{internal_api} {version} {architecture} x{num_threads}'.format(**b)
                  for b in prov['blas'] or []), prov['git_commit'])


def format_table(rows, columns, floatfmt='{:.4f}'):
    """Format ``rows`` (dicts) as an aligned text table over ``columns``.

    ``columns`` is a list of ``(key, header)`` or ``(key, header, fmt)`` tuples; floats use
    ``fmt`` or else ``floatfmt``; missing values print as ``-``.
    """
    columns = [tuple(c) + (None,) * (3 - len(c)) for c in columns]
    cells = [[header for _, header, _ in columns]]
    cells += [[_cell(row.get(key), fmt or floatfmt) for key, _, fmt in columns]
              for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(cells):
        lines.append('  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if n == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def markdown_table(header, rows):
    """A Markdown table: ``header`` and each row are lists of cells (already strings)."""
    lines = [header, ['---'] * len(header)] + list(rows)
    return '\n'.join('| ' + ' | '.join(str(c) for c in line) + ' |' for line in lines)


def write_tables(stem, rows, columns, meta):
    """``STEM.json`` (``meta`` and the rows) and ``STEM.md`` (a line of ``meta``'s data
    set, seed and overrides above the :func:`format_table` of the rows); returns the
    table."""
    table = format_table(rows, columns)
    write_page(stem, dict(meta, rows=rows), 'dataset {}, seed {}, overrides {}\n\n```\n{}\n```'
               .format(meta.get('dataset'), meta.get('seed'), meta.get('overrides') or 'none',
                       table))
    return table


def write_page(stem, data, markdown):
    """``STEM.json`` (``data``) and ``STEM.md`` (``markdown``), each written whole or not at
    all (a killed write leaves the previous file)."""
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    _files.write_json(stem + '.json', data)
    with _files.atomic_write(stem + '.md') as f:
        f.write(markdown.rstrip('\n') + '\n')


def _cell(value, fmt):
    if value is None:
        return '-'
    if isinstance(value, float):
        return fmt.format(value)
    return str(value)
