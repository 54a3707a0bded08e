"""Batch export: takes files to retargeted files on one GPU, a daemon, Ray or an OpenJD farm."""
