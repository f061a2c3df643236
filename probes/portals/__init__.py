"""Government portal checks (issue 17): fetch a page, then look for what a visitor
should never see: defacement, dark links, foreign scripts, forbidden words, clones.

``fetch`` talks HTTP(S) with bounded time and size, ``page`` reads the HTML,
``baseline`` compares with the approved page, ``detect`` turns all of it into findings
and ``check`` runs one check.  Not yet wired into the agent's run loop or the centre.
"""
