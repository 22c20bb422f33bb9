#!/usr/bin/env bash
# make_certs.sh DIR - makes the test PKI in DIR with the openssl CLI:
#   ca.pem ca.key               the test CA (trusted by the tests)
#   server.pem server.key       127.0.0.1, ::1 and localhost, signed by the CA
#   expired.pem expired.key     same names, valid only in 2020
#   wronghost.pem wronghost.key wrong.example only, signed by the CA
#   selfsigned.pem selfsigned.key  127.0.0.1/localhost, self-signed
#   untrusted.pem untrusted.key 127.0.0.1/localhost, signed by other-ca.pem
#   client.pem client.key       a client certificate signed by the CA
# Keys are EC P-256 so the whole set takes well under a second.
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -sha256 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$1.pem" 2>/dev/null
}

ext_for() { # san
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$1"
}

leaf() { # name ca subject san
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr" 2>/dev/null
  ext_for "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

names="IP:127.0.0.1,IP:::1,DNS:localhost"
ca ca "ahttp test CA"
ca other-ca "ahttp untrusted CA"
leaf server ca "127.0.0.1" "$names"
leaf wronghost ca "wrong.example" "DNS:wrong.example"
leaf untrusted other-ca "127.0.0.1" "$names"
leaf client ca "ahttp test client" "DNS:client.test"

key selfsigned.key
openssl req -x509 -new -key selfsigned.key -subj "/CN=127.0.0.1" -days 825 -sha256 \
  -addext "subjectAltName=$names" -out selfsigned.pem 2>/dev/null

# An expired certificate needs dates in the past, which only `openssl ca`
# can set on OpenSSL 3.0.
mkdir -p ca-db
: > ca-db/index.txt
echo 1000 > ca-db/serial
cat > ca-db/ca.cnf <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[ any ]
commonName = supplied
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $names
CNF
key expired.key
openssl req -new -key expired.key -subj "/CN=127.0.0.1" -out expired.csr 2>/dev/null
openssl ca -batch -config ca-db/ca.cnf -extensions leaf -in expired.csr \
  -startdate 20200101000000Z -enddate 20200201000000Z -out expired.pem 2>/dev/null
rm -f expired.csr
echo "certificates in $dir"
