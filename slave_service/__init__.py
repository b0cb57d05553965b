"""The slave: runs processors on files the master sends."""
