#!/usr/bin/env bash
# t_slowlink's test, more rounds (the stall it guards against came in two
# runs of three): three at 1 Mbit/s and two at 256 kbit/s.
T_RATES=${T_RATES:-1mbit 1mbit 1mbit 256kbit 256kbit} exec bash "$(dirname "$0")/t_slowlink.sh"
