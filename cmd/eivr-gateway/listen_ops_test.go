package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr/eivrtest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with serial
// to certFile/keyFile and returns it.
func writeCert(t *testing.T, serial int64, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// servedSerial is the serial of the certificate the listener presents.
func servedSerial(addr string, roots *x509.CertPool) (int64, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

// TestListenerTLSReloadAndDrain: a wss listener serves a per-call
// connection; SIGHUP swaps the certificate for the next connections;
// SIGTERM makes /readyz false and refuses new upgrades (the fake
// Asterisk's per-call connect fails, the dialplan would go on) while the
// live call's script carries on; the process ends when that call ends.
func TestListenerTLSReloadAndDrain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*testwait.Long)
	defer cancel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c1 := writeCert(t, 1, certFile, keyFile)
	scripts := eivrtest.NewServer(t)
	cfg := listenTestConfig(scripts.Host, config.ListenAsterisk{Name: "pbx1", Username: "pbx1", Password: "pw1"})
	cfg.Listen.CertFile, cfg.Listen.KeyFile = certFile, keyFile
	signals := make(chan os.Signal, 1)
	li := startListenInstanceSig(t, cfg, testLogger(t), signals)
	addr := li.s.Addr()

	roots := x509.NewCertPool()
	roots.AddCert(c1)
	if n, err := servedSerial(addr, roots); err != nil || n != 1 {
		t.Fatalf("served certificate %d, %v; want serial 1", n, err)
	}
	c2 := writeCert(t, 2, certFile, keyFile)
	roots.AddCert(c2)
	signals <- syscall.SIGHUP
	testwait.Until(t, testwait.Long, "the re-read certificate served", func() bool {
		n, err := servedSerial(addr, roots)
		return err == nil && n == 2
	})

	ast, err := aritest.NewServer(aritest.Options{Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer ast.Close()
	if err := ast.AddOutbound(aritest.Outbound{URL: "wss://" + addr + "/ari", Username: "pbx1", Password: "pw1",
		App: "eivr", PerCall: true, TLS: &tls.Config{RootCAs: roots}}); err != nil {
		t.Fatal(err)
	}
	id, err := ast.StartCall("eivr", []string{scripts.URL(), ""}, aritest.CallOptions{Vars: map[string]string{"CALLNO": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scripts.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := identify(ctx, sc); err != nil || n != 7 {
		t.Fatalf("identify: %d, %v", n, err)
	}
	if ok, _ := li.s.ready(); !ok {
		t.Fatal("not ready while serving")
	}

	signals <- syscall.SIGTERM
	testwait.Until(t, testwait.Long, "not ready after SIGTERM", func() bool { ok, _ := li.s.ready(); return !ok })
	if _, err := ast.StartCall("eivr", []string{scripts.URL(), ""}, aritest.CallOptions{}); !errors.Is(err, aritest.ErrDial) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a new call while draining: %v, want the upgrade refused with 503", err)
	}
	// The live call is untouched: its script is answered, and E ends it.
	if n, err := identify(ctx, sc); err != nil || n != 7 {
		t.Fatalf("identify while draining: %d, %v", n, err)
	}
	if err := sc.Command("E,bye"); err != nil {
		t.Fatal(err)
	}
	end, err := ast.WaitEnd(ctx, id)
	if err != nil || !end.Continued {
		t.Fatalf("end %+v, %v; want back in the dialplan", end, err)
	}
	select {
	case err := <-li.done:
		li.done <- err
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the drained process did not end")
	}
}

func TestCheckListen(t *testing.T) {
	ast, err := aritest.NewServer(aritest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ast.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, 1, certFile, keyFile)
	for _, tc := range []struct {
		name  string
		edit  func(c *config.Config)
		fails bool
		want  []string
	}{
		{"fine", func(c *config.Config) {
			c.Listen.Asterisks = append(c.Listen.Asterisks, config.ListenAsterisk{Name: "pbx2", Username: "u2", Password: "p2", ARIURL: ast.URL()})
			c.Listen.CertFile, c.Listen.KeyFile = certFile, keyFile
		}, false, []string{"✓ listen.cert_file", "✓ listen.address", "uri = wss://", "✓ asterisk pbx1", "REST over the socket", "✓ asterisk pbx2", "Asterisk 22.10.1", "rest auto = split"}},
		{"address in use", func(c *config.Config) { c.Listen.Address = busy.Addr().String() }, true, []string{"✗ listen.address"}},
		{"bad key", func(c *config.Config) { c.Listen.CertFile, c.Listen.KeyFile = certFile, certFile }, true, []string{"✗ listen.cert_file"}},
		{"wrong ARI password", func(c *config.Config) {
			c.ARI.Password = "wrong"
			c.Listen.Asterisks[0].ARIURL = ast.URL()
		}, true, []string{"✗ asterisk pbx1: HTTP route"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := listenTestConfig("127.0.0.1", config.ListenAsterisk{Name: "pbx1", Username: "u1", Password: "p1"})
			cfg.ARI.Username, cfg.ARI.Password = "asterisk", "asterisk"
			tc.edit(&cfg)
			var out bytes.Buffer
			c := &checker{w: &out}
			checkListen(context.Background(), c, cfg, testwait.Long)
			if c.failed != tc.fails {
				t.Fatalf("failed = %v, want %v:\n%s", c.failed, tc.fails, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
