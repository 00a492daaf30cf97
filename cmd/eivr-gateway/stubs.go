package main

import (
	"context"
	"errors"
)

var errNotYet = errors.New("not implemented yet: waiting for the gateway package")

func cmdOriginate(ctx context.Context, args []string, e env) error { return errNotYet }
