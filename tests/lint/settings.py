#!/usr/bin/env python3
"""Fails when the man page or the example config misses a setting.

The settings are read from their one table, core/include/acfs/settings.h
(X(ID, KEY, CLI, MOUNT_OPT, TYPE, ...)). aria-cachefs(1) must name each
one's --CLI and its -o MOUNT_OPT, its KEY under FILES (the config file)
and ARIA_CACHE_<KEY> under ENVIRONMENT; config.example must name its KEY.
"""
import re
import sys

TABLE = 'core/include/acfs/settings.h'
MAN = 'packaging/man/aria-cachefs.1.scd'
EXAMPLE = 'packaging/config.example'

ROW = re.compile(r'X\((\w+),\s*"([^"]+)",\s*"([^"]+)",\s*"([^"]+)",\s*(\w+)')


def section(text, name):
    """The text of man page section NAME (up to the next heading)."""
    m = re.search(r'^# ' + name + r'\n(.*?)(?=^# |\Z)', text, re.M | re.S)
    return m.group(1) if m else ''


def main():
    rows = ROW.findall(open(TABLE, encoding='utf-8').read()
                       .replace('\\\n', ' '))
    if len(rows) < 10:
        print(f'{TABLE}: found only {len(rows)} settings; the pattern '
              'no longer matches the table')
        return 1
    man = open(MAN, encoding='utf-8').read().replace('\\', '')
    files = section(man, 'FILES')
    env = section(man, 'ENVIRONMENT')
    example = open(EXAMPLE, encoding='utf-8').read()
    missing = []
    for ident, key, cli, mopt, _type in rows:
        if not re.search(r'--' + re.escape(cli) + r'\b(?!-)', man):
            missing.append(f'{MAN}: no --{cli} (setting {key})')
        if not re.search(r'\b' + re.escape(mopt) + r'\b', man):
            missing.append(f'{MAN}: no -o {mopt} (setting {key})')
        if not re.search(r'\*' + re.escape(key) + r'\*', files):
            missing.append(f'{MAN}: FILES does not name the key {key}')
        var = 'ARIA_CACHE_' + key.upper()
        if not re.search(r'\b' + var + r'\b', env):
            missing.append(f'{MAN}: ENVIRONMENT does not name {var}')
        if not re.search(r'^#?\s*' + re.escape(key) + r'\s*=', example,
                         re.M):
            missing.append(f'{EXAMPLE}: no "{key} =" line')
    for m in missing:
        print(m)
    if missing:
        return 1
    print(f'{len(rows)} settings: each in {MAN} and {EXAMPLE}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
