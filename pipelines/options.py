"""Beam pipeline options: pass the user's Beam flags through, default to the FnApiRunner.

Plain DirectRunner tries to download the Prism binary first (offline here it logs an error and
leaks a thread per run), so local runs default to FnApiRunner.
"""

from __future__ import annotations

import functools

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

DEFAULT_RUNNER = "FnApiRunner"


class UsageError(ValueError):
    """A bad path or flag: reported as one line on stderr with a non-zero exit code."""


@functools.cache
def _known_beam_flags() -> frozenset[str]:
    return frozenset(PipelineOptions([]).get_all_options(drop_default=False).keys())


def beam_options(beam_args: list[str]) -> PipelineOptions:
    """PipelineOptions from the flags pairmill did not recognise; unknown Beam flags are an error."""
    known = _known_beam_flags()
    takes_value = False  # `--flag value` as well as `--flag=value`
    for arg in beam_args:
        if not arg.startswith("--"):
            if not takes_value:
                raise UsageError(f"unexpected argument {arg!r}")
            takes_value = False
            continue
        name, eq, _ = arg[2:].partition("=")
        if name not in known:
            raise UsageError(f"unknown flag --{name} (neither a pairmill nor a Beam option)")
        takes_value = not eq
    if not any(a.startswith("--default_sdk_harness_log_level") for a in beam_args):
        # worker processes otherwise log every gRPC channel they open at INFO
        beam_args = [*beam_args, "--default_sdk_harness_log_level=WARN"]  # WARN: Java workers know no WARNING
    options = PipelineOptions(beam_args)
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_RUNNER
    from .engines import use_cached_job_server

    return use_cached_job_server(options)
