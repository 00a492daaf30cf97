package ari

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Subscribe subscribes app to event sources (POST
// /applications/{app}/subscription?eventSource=...): "channel:<id>",
// "bridge:<id>", "endpoint:<tech>[/<resource>]", "deviceState:<name>".
// The app then receives those sources' events without their channels
// entering Stasis (a CTI feed). Asterisk refuses the whole call when one
// source does not exist (an *Error with Status 422 "Event source does not
// exist": subscribe one at a time to tell which; on 22.10.1 every
// endpoint:Local source is refused so, Local having no endpoints). It
// returns the app's subscriptions after the call.
func (c *Client) Subscribe(ctx context.Context, app string, sources ...string) (Application, error) {
	var a Application
	if err := checkID("application", app); err != nil {
		return a, err
	}
	q := url.Values{"eventSource": {strings.Join(sources, ",")}}
	path := "/applications/" + seg(app) + "/subscription"
	body, err := c.do(ctx, request{method: http.MethodPost, path: path, query: q})
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return a, &Error{Method: http.MethodPost, Path: path, Status: 200, Message: "reply does not decode: " + err.Error()}
	}
	return a, nil
}
