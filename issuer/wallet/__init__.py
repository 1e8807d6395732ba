"""Wallets: an earner puts their badge into a digital wallet with one scan.

Two protocols hand out the same thing, a copy of the award bound to the wallet's own DID
(``holder_binding``):

- OpenID4VCI 1.0, pre-authorized code flow (``openid4vci``): edubadges, walt.id, Credo
  wallets and the EUDI-style wallets;
- the VC-API exchange with DIDAuth (``vc_api``): the DCC Learner Credential Wallet.

Offers are made only on the earner's private page (the settings link from the award
e-mail), never on the public page, so only the earner may claim; a hidden page can still be
claimed. Codes, challenges, nonces and tokens are short-lived, single-use random secrets of
which only digests are stored (``offers``). Revoking an award revokes every copy: they all
carry the award's own ``credentialStatus`` entry. The web side is ``issuer.web.wallet``.
"""
