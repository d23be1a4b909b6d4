"""Report tables written by the benchmark and study tools."""
from typing import Sequence


def write_table(path: str, lines: Sequence[str]) -> str:
    """Write Markdown ``lines`` to ``path`` and print them (the report of every study/benchmark tool)."""
    table = '\n'.join(lines)
    with open(path, 'w') as f:
        f.write(table + '\n')
    print(table)
    return table
