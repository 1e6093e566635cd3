#!/bin/bash
# Exit 0 when a TCP connection to 127.0.0.1:$1 succeeds, else 1 (bash names the errno).
if exec 3<>"/dev/tcp/127.0.0.1/$1"; then
    echo connected
    exit 0
fi
echo refused
exit 1
