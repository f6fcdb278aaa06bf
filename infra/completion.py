"""Shell completion for the command lines, made from their argparse parsers.

``python -m model_packaging completion bash`` and ``python -m infra completion bash`` print a
bash function, bound with ``complete -F`` to the console script (``mlserve-release``,
``mlserve-infra``), that completes:

- the subcommands, and the top-level options;
- after a subcommand, its options, and the ``choices`` of the option before the cursor or of
  its positional arguments.

Anything else (a path, a model name) is left to bash's default completion (``complete -o
default``), which offers file names. zsh runs the same function once ``bashcompinit`` is loaded
(``autoload -U +X bashcompinit && bashcompinit``).

The parser is read through argparse's ``_actions`` and ``_SubParsersAction``, which argparse
documents nowhere but has kept since its first release.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable

# Words the script writes unquoted into `compgen -W` and `case` patterns: nothing bash would
# expand or split.
_SAFE_WORD = re.compile(r"^[A-Za-z0-9_.,:/@+=-]+$")


def bash_script(parser: argparse.ArgumentParser, command: str) -> str:
    """The completion script for ``command``, whose arguments ``parser`` parses."""
    function = "_" + re.sub(r"[^A-Za-z0-9_]", "_", command)
    top_options, top_values, _, _ = _describe(parser)
    commands = _subcommands(parser)
    lines = [
        f"# bash completion for {command}; zsh: autoload -U +X bashcompinit && bashcompinit",
        f"{function}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" command="" word i skip=0',
        '    if (( COMP_CWORD > 0 )); then prev="${COMP_WORDS[COMP_CWORD-1]}"; fi',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        word="${COMP_WORDS[i]}"',
        "        if (( skip )); then skip=0; continue; fi",
        '        case "$word" in',
    ]
    if top_values:
        lines.append(f"            {_pattern(top_values)}) skip=1 ;;")
    lines += [
        "            -*) ;;",
        '            *) command="$word"; break ;;',
        "        esac",
        "    done",
        "    COMPREPLY=()",
        '    case "$command" in',
        '        "")',
        *_words_by_dash(top_options, commands, indent=12),
        "            ;;",
    ]
    for name, sub in sorted(_subparsers(parser).items()):
        options, values, choices, positional = _describe(sub)
        lines.append(f"        {_word(name)})")
        cases = [
            f"                {_word(option)}) {_reply(option_choices)}; return 0 ;;"
            for option, option_choices in sorted(choices.items())
        ]
        plain = [option for option in values if option not in choices]
        if plain:
            # A value of its own kind (a path, a name): the default completion.
            cases.append(f"                {_pattern(plain)}) return 0 ;;")
        if cases:
            lines += ['            case "$prev" in', *cases, "            esac"]
        lines += _words_by_dash(options, positional, indent=12)
        lines.append("            ;;")
    lines += [
        "    esac",
        "    return 0",
        "}",
        f"complete -o default -F {function} {_word(command)}",
    ]
    return "\n".join(lines) + "\n"


def _describe(
    parser: argparse.ArgumentParser,
) -> tuple[list[str], list[str], dict[str, list[str]], list[str]]:
    """A parser's option strings; those that take a value; the choices of those that have
    some; and the choices of its positional arguments."""
    options: list[str] = []
    values: list[str] = []
    choices: dict[str, list[str]] = {}
    positional: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        listed = [str(choice) for choice in action.choices or ()]
        if not action.option_strings:
            positional += listed
            continue
        options += action.option_strings
        if action.nargs != 0:
            values += action.option_strings
            for option in action.option_strings:
                if listed:
                    choices[option] = listed
    return options, values, choices, positional


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _subcommands(parser: argparse.ArgumentParser) -> list[str]:
    return list(_subparsers(parser))


def _words_by_dash(options: list[str], words: list[str], *, indent: int) -> list[str]:
    """Options when the word being completed starts with a dash, else ``words``."""
    pad = " " * indent
    lines = [f'{pad}if [[ "$cur" == -* ]]; then', f"{pad}    {_reply(options)}"]
    if words:
        lines += [f"{pad}else", f"{pad}    {_reply(words)}"]
    lines.append(f"{pad}fi")
    return lines


def _reply(words: Iterable[str]) -> str:
    listed = " ".join(_word(word) for word in words)
    return f'COMPREPLY=($(compgen -W "{listed}" -- "$cur"))'


def _pattern(words: Iterable[str]) -> str:
    return "|".join(_word(word) for word in words)


def _word(word: str) -> str:
    if not _SAFE_WORD.match(word):
        raise ValueError(f"{word!r} cannot be completed: only letters, digits and .,:/@+=-_")
    return word
