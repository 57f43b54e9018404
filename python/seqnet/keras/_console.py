"""Routes seqnet's training log (progress bar, callbacks' messages, summary, warnings) into sys.stdout and
sys.stderr as they are at the time of writing: a terminal, a pipe, a Jupyter cell or pytest's capture."""
import sys
import warnings

from .. import _core

_WARNING = "seqnet: warning: "


def _write_out(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def _write_err(text):
    # seqnet's warnings become Python warnings, which the warnings filters can silence or turn into errors.
    if text.startswith(_WARNING):
        warnings.warn(text[len(_WARNING):].rstrip("\n"), UserWarning, stacklevel=2)
        return
    sys.stderr.write(text)
    sys.stderr.flush()


def _interactive():
    # The bar redraws its line in a terminal and in a notebook; in a pipe or a file it writes one line per epoch.
    if "ipykernel" in sys.modules:
        return True
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


_core.install_console(_write_out, _write_err, _interactive)
