// Package browser tests the live call view (package liveview) in a real
// browser: headless Chromium, driven over the DevTools protocol with
// chromedp, loads the page from a gateway on aritest during a simulated
// call and the test asserts what the DOM shows. Without a Chromium on
// PATH the test skips, unless EIVR_REQUIRE_BROWSER=1 (CI, whose .ci/run
// installs Debian's chromium): then it fails. EIVR_CHROMIUM names the
// browser to run.
package browser
