"""The base of the errors the tools' fail-fast input checks raise (:mod:`.data_check`,
:mod:`.checkpoint_check`): ``tools/train.py`` prints it and exits with status 2 before the work dir is
touched."""


class InputCheckError(Exception):
    """A config's dataset or checkpoint fails a check before training; the message names the file, the config
    key and the fix."""
