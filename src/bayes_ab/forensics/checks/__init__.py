"""One forensic check per module, each named as the check it defines (see `registry`)."""
