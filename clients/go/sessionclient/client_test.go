package sessionclient

import "testing"

func TestLocalTargets(t *testing.T) {
	cases := map[string]bool{
		"localhost:50051":           true,
		"LOCALHOST:1":               true,
		"api.localhost:1":           true,
		"127.0.0.1:50051":           true,
		"127.9.9.9:1":               true,
		"[::1]:50051":               true,
		"dns:///localhost:50051":    true,
		"ipv4:127.0.0.1:50051":      true,
		"unix:/run/session.sock":    true,
		"session-service:50051":     false,
		"10.0.0.1:50051":            false,
		"[2001:db8::1]:50051":       false,
		"dns:///session-service:1":  false,
		"localhost.example.com:443": false,
	}
	for target, local := range cases {
		if IsLocalTarget(target) != local {
			t.Errorf("IsLocalTarget(%q) = %v", target, !local)
		}
	}
}

func TestPlaintextToARemoteTargetIsRefusedUnlessAsked(t *testing.T) {
	if _, err := New("session-service:50051"); err == nil {
		t.Fatal("plaintext to a remote target was allowed")
	}
	c, err := New("session-service:50051", WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	c, err = New("127.0.0.1:50051")
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}
