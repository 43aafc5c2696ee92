"""The shipped keyword-spotting model (`kws.aem`) and its training report (package data)."""
