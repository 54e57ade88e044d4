"""Marks this folder as the root of its test package, so that pytest names every service's tests apart."""
