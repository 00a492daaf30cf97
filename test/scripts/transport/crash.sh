#!/bin/sh
# Dies of SIGSEGV as a crashing program would (transport tests).
kill -SEGV $$
