"""Content credentials: every file swapstream writes is signed as synthetic media (C2PA).

identity.py   the signing key and certificate chain: the user's own (--sign-cert/--sign-key)
              or a per-user one made once under the user's config folder (untrusted, binding)
seal.py       the C2PA manifest (actions, source ingredient, model) and the signing of a
              finished file into its final name (temp file, then rename)
verify.py     what a file's credentials say and whether they still match its content
flags.py      the command-line flags and the engine config section that choose all this
"""
