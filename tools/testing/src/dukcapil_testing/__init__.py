"""Test support: fakes, development tokens and helpers shared by the services' tests; never installed in an image."""
