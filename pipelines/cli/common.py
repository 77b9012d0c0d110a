"""What the command modules of `docent` share: the `--config` option, declared once and taken
by the group and by every command, the settings it selects, and the interruption message."""

import click

CONFIG_HELP = "YAML configuration file (default: $DOCENT_CONFIG, else the embedded defaults)."

# Where `--config` keeps its value: the context's `meta`, which the group's context shares with
# the contexts of its commands, so that `docent --config X ask` and `docent ask --config X` agree.
_CONFIG_KEY = "docent.config"

# Addresses only this machine can reach.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Stopped(KeyboardInterrupt):
    """Ctrl-C ended a command; the message says what was kept and how to resume."""


def _keep_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Remember a given `--config` for every command of the invocation (the last one given
    wins: a command's own over the group's)."""
    if value is not None:
        ctx.meta[_CONFIG_KEY] = value


def config_option() -> click.Option:
    """The `--config` option: the group takes it, and `with_config` adds it to each command."""
    return click.Option(
        ["--config"],
        type=click.Path(),
        expose_value=False,
        callback=_keep_config,
        help=CONFIG_HELP,
    )


def with_config(command: click.Command) -> click.Command:
    """`command`, and each command of it when it is a group, taking `--config` as well."""
    command.params.append(config_option())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            with_config(sub)
    return command


def config_path() -> str | None:
    """The `--config` of this invocation, given before the command or after it; else None."""
    return click.get_current_context().meta.get(_CONFIG_KEY)


def load_settings():
    """The settings of this invocation (`--config`, else `$DOCENT_CONFIG`, else the defaults),
    with tracing configured."""
    from pipelines import telemetry
    from pipelines.config import load_settings as load

    settings = load(config_path())
    telemetry.configure(settings.tracing)
    return settings


def store_settings():
    """The settings of a command that opens the store itself: refused at once, before any
    model loads, when another process (a running `docent serve`: say so) holds it."""
    settings = load_settings()
    settings.ensure_store_free()
    return settings
