"""Plain-text tables for the command line and the committed results."""


def format_table(rows, columns, floatfmt='{:.4f}'):
    """Format ``rows`` (dicts) as an aligned text table over ``columns``.

    ``columns`` is a list of ``(key, header)`` or ``(key, header, fmt)`` tuples; floats use
    ``fmt`` or else ``floatfmt``; missing values print as ``-``.
    """
    def cell(value, fmt):
        if value is None:
            return '-'
        if isinstance(value, float):
            return (fmt or floatfmt).format(value)
        return str(value)

    columns = [tuple(c) + (None,) * (3 - len(c)) for c in columns]
    cells = [[header for _, header, _ in columns]]
    cells += [[cell(row.get(key), fmt) for key, _, fmt in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(cells):
        lines.append('  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if n == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)
