"""The base of exceptions that mean "the input needs fixing".

The CLI prints these as one plain line and exits 2; anything else is a bug and
keeps its traceback.
"""


class UserError(Exception):
    """Bad input: the message names the file or option and what to change."""
