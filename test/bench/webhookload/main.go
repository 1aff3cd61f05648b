// Command webhookload sends AdmissionReview v1 requests for an opted-in pod to a running
// injector over TLS at a fixed rate (open loop: a request is due at start + i/rate whether or
// not earlier ones have come back, so a slow server cannot slow the load down and hide its
// own latency), over a few keep-alive connections, for a fixed time. Latency runs from the
// moment a request was due to its full response, so time spent waiting for a connection counts.
//
// A response counts as an error unless it is HTTP 200, names the request's UID, allows the pod
// and carries a JSON patch (the pod was injected: a skipped pod means the injector is not doing
// the work we mean to time, e.g. its namespace lookup failed).
//
// Output: one human line, then key=value lines (webhook_p50_us, webhook_p99_us, webhook_max_us,
// webhook_rps, webhook_errors, ...). Exit status 1 when any request failed.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/procview/procview/injector/inject"
)

type options struct {
	url       string
	caFile    string
	rate      float64
	duration  time.Duration
	warmup    time.Duration
	conns     int
	namespace string
	timeout   time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "https://127.0.0.1:9443/inject", "the injector's webhook URL")
	flag.StringVar(&o.caFile, "cacert", "", "PEM CA that signed the injector's serving certificate (required)")
	flag.Float64Var(&o.rate, "rate", 200, "requests per second")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send (after the warm-up)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "untimed load first, at the same rate")
	flag.IntVar(&o.conns, "conns", 4, "TLS connections (kept alive) the requests share, as an API server's pool")
	flag.StringVar(&o.namespace, "namespace", "default", "namespace of the pod (it must exist; the injector reads its labels)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout (the API server's webhook default)")
	flag.Parse()
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "webhookload:", err)
		os.Exit(2)
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhookload:", err)
		os.Exit(2)
	}
	res.print(os.Stdout, o)
	if res.errors > 0 {
		fmt.Fprintf(os.Stderr, "webhookload: %d of %d requests failed, first: %v\n", res.errors, res.sent, res.firstErr)
		os.Exit(1)
	}
}

func (o options) validate() error {
	switch {
	case o.caFile == "":
		return errors.New("-cacert is required")
	case o.rate <= 0 || o.rate > 100000:
		return fmt.Errorf("-rate %v: want 0 < rate <= 100000", o.rate)
	case o.duration <= 0:
		return fmt.Errorf("-duration %v: want > 0", o.duration)
	case o.warmup < 0:
		return fmt.Errorf("-warmup %v: want >= 0", o.warmup)
	case o.conns < 1:
		return fmt.Errorf("-conns %d: want >= 1", o.conns)
	}
	return nil
}

type result struct {
	sent, errors int
	firstErr     error
	lat          []time.Duration // timed requests, sorted
	wall         time.Duration   // from the first timed request due to the last response
}

func run(o options) (*result, error) {
	pem, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", o.caFile)
	}
	client := &http.Client{
		Timeout: o.timeout,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxConnsPerHost:     o.conns,
			MaxIdleConnsPerHost: o.conns,
			IdleConnTimeout:     time.Minute,
			ForceAttemptHTTP2:   false, // the API server calls webhooks over HTTP/1.1 or 2; a pool of 1.1 connections spreads load like several API server replicas
		},
	}
	pod, err := json.Marshal(optedInPod(o.namespace))
	if err != nil {
		return nil, err
	}

	warm := int(o.warmup.Seconds() * o.rate)
	timed := max(1, int(o.duration.Seconds()*o.rate))
	total := warm + timed
	// Every request is encoded before the clock starts: encoding is the sender's work, and on
	// two cores it would also take CPU from the webhook being timed.
	bodies := make([][]byte, total)
	for i := range bodies {
		if bodies[i], err = reviewBody(pod, o.namespace, i); err != nil {
			return nil, err
		}
	}
	interval := time.Duration(float64(time.Second) / o.rate)
	res := &result{lat: make([]time.Duration, 0, timed)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now().Add(50 * time.Millisecond)
	var last time.Time
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, err := review(client, o.url, bodies[i], i)
			if i < warm {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			res.sent++
			if err != nil {
				res.errors++
				if res.firstErr == nil {
					res.firstErr = err
				}
				return
			}
			res.lat = append(res.lat, done.Sub(due))
			if done.After(last) {
				last = done
			}
		}()
	}
	wg.Wait()
	if !last.IsZero() {
		res.wall = last.Sub(start.Add(time.Duration(warm) * interval))
	}
	slices.Sort(res.lat)
	return res, nil
}

// reviewUID names request number i.
func reviewUID(i int) types.UID { return types.UID("webhookload-" + strconv.Itoa(i)) }

// reviewBody is the AdmissionReview of request number i, for the pod's JSON.
func reviewBody(pod []byte, ns string, i int) ([]byte, error) {
	return json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       reviewUID(i),
			Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: ns,
			Operation: admissionv1.Create,
			UserInfo:  authUser,
			Object:    runtime.RawExtension{Raw: pod},
			DryRun:    ptr.To(false),
			Options:   runtime.RawExtension{Raw: []byte(`{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}`)},
		},
	})
}

// review sends request number i (body) and checks the answer; done is when the answer had
// arrived (before the client decodes it: that is the load generator's work, not the webhook's
// latency).
func review(client *http.Client, url string, body []byte, i int) (done time.Time, err error) {
	uid := reviewUID(i)
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	done = time.Now()
	if err != nil {
		return done, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return done, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &out); err != nil {
		return done, fmt.Errorf("decode AdmissionReview: %w", err)
	}
	r := out.Response
	switch {
	case r == nil:
		return done, errors.New("AdmissionReview without a response")
	case r.UID != uid:
		return done, fmt.Errorf("response UID %q, want %q", r.UID, uid)
	case !r.Allowed:
		return done, fmt.Errorf("pod denied: %v", r.Result)
	case len(r.Patch) == 0:
		return done, fmt.Errorf("pod not injected (no patch), warnings %q", r.Warnings)
	}
	return done, nil
}

// authUser is who creates a Deployment's pods: the ReplicaSet controller.
var authUser = authenticationv1.UserInfo{
	Username: "system:serviceaccount:kube-system:replicaset-controller",
	UID:      "2c5e1c8e-0f0a-4d55-9b8e-6a1f4f0b9d11",
	Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
}

// optedInPod is a pod as a Deployment's ReplicaSet creates it, after the API server's own
// admission (service account token volume): what the injector sees in production.
func optedInPod(ns string) *corev1.Pod {
	q := resource.MustParse
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "web-7d9c6b5f4-",
			Namespace:    ns,
			Labels:       map[string]string{"app": "web", "pod-template-hash": "7d9c6b5f4"},
			Annotations:  map[string]string{inject.AnnotationInject: "true"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9c6b5f4",
				UID: "6f1d3c2a-8b7e-4f5a-9c0d-1e2f3a4b5c6d", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "httpd",
				Image: "httpd:2.4",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
				Resources: corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceMemory: q("256Mi"), corev1.ResourceCPU: q("500m")},
					Requests: corev1.ResourceList{corev1.ResourceMemory: q("256Mi"), corev1.ResourceCPU: q("500m")},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}},
					PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3,
				},
				VolumeMounts: []corev1.VolumeMount{{
					Name: "kube-api-access-x7k2p", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true,
				}},
				TerminationMessagePath:   "/dev/termination-log",
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				ImagePullPolicy:          corev1.PullIfNotPresent,
			}},
			Volumes: []corev1.Volume{{
				Name: "kube-api-access-x7k2p",
				VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					DefaultMode: ptr.To[int32](0o644),
					Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
						{ConfigMap: &corev1.ConfigMapProjection{
							LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
							Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
						}},
						{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
							Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
						}}}},
					},
				}},
			}},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			DNSPolicy:                     corev1.DNSClusterFirst,
			ServiceAccountName:            "default",
			SchedulerName:                 corev1.DefaultSchedulerName,
			EnableServiceLinks:            ptr.To(true),
			PreemptionPolicy:              ptr.To(corev1.PreemptLowerPriority),
			Priority:                      ptr.To[int32](0),
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
			},
		},
	}
}

func (r *result) print(w io.Writer, o options) {
	p := func(q float64) time.Duration {
		if len(r.lat) == 0 {
			return 0
		}
		return r.lat[min(len(r.lat)-1, int(q*float64(len(r.lat))))]
	}
	var maxLat time.Duration
	if len(r.lat) > 0 {
		maxLat = r.lat[len(r.lat)-1]
	}
	rps := 0.0
	if r.wall > 0 {
		rps = float64(len(r.lat)) / r.wall.Seconds()
	}
	us := func(d time.Duration) int64 { return d.Microseconds() }
	fmt.Fprintf(w, "webhook %s: %d requests at %.0f/s over %d connections: p50 %v p99 %v max %v, %.1f/s answered, %d errors\n",
		o.url, r.sent, o.rate, o.conns, p(0.50), p(0.99), maxLat, rps, r.errors)
	fmt.Fprintf(w, "webhook_rate_target=%.0f\n", o.rate)
	fmt.Fprintf(w, "webhook_requests=%d\n", r.sent)
	fmt.Fprintf(w, "webhook_p50_us=%d\n", us(p(0.50)))
	fmt.Fprintf(w, "webhook_p99_us=%d\n", us(p(0.99)))
	fmt.Fprintf(w, "webhook_max_us=%d\n", us(maxLat))
	fmt.Fprintf(w, "webhook_rps=%.1f\n", rps)
	fmt.Fprintf(w, "webhook_errors=%d\n", r.errors)
}
