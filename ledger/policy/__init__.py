"""The policy: the one reader of the dated parameter files, the files themselves and the region profiles."""
