"""OCTO supplier API (octo.travel): resellers book TOS inventory."""
