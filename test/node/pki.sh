# Certificates of the local node (sourced by up.sh and webhook.sh; needs lib.sh).
# One CA signs everything: API server serving cert, kubelet serving cert, client certs
# (admin, kubelet, apiserver->kubelet) and the webhook's serving cert. EC keys: fast to make.

# pki_ca: makes the CA once per state dir.
pki_ca() {
  mkdir -p "$PKI"
  [ -s "$PKI/ca.crt" ] && return 0
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -sha256 -days 30 -subj "/CN=procview-node-ca" \
    -out "$PKI/ca.crt" 2>/dev/null
}

# pki_cert NAME CN ORG SANS(comma list of DNS:x,IP:y or "") USAGE(serverAuth|clientAuth)
pki_cert() {
  local name=$1 cn=$2 org=$3 sans=$4 usage=$5 subj ext
  [ -s "$PKI/$name.crt" ] && return 0
  subj="/CN=$cn"
  [ -z "$org" ] || subj="/O=$org$subj"
  ext=$PKI/$name.ext
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -z "$sans" ] || echo "subjectAltName=$sans"
  } >"$ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

# write_kubeconfig FILE CERTNAME
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: procview-node
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: procview-node
  context: {cluster: procview-node, user: $2}
current-context: procview-node
EOF
}
