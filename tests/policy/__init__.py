"""Tests of the policy loader: dated, cited parameter files and region profiles."""
