#!/bin/sh
# parseHttpRequest in a comment
echo "don't split_this"
