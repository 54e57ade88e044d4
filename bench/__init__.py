"""The benchmark of issue 7: the real system against two baselines measured in the same run (`make bench`)."""
