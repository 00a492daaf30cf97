// Package reorder puts ARI events back into per-channel causal order.
package reorder
