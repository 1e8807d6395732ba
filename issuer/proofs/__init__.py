"""Securing credentials: Data Integrity proofs (JSON-LD) and VC-JWT.

The only modules of the service that import ``pyld`` or ``jwt``. Everything else asks
them to sign or verify and gets bytes, dicts or an ``issuer.errors.ProofError`` back.
"""
