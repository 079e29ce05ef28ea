#!/usr/bin/env bash
# Three agencies' clerks on one machine, on the embedded default (no broker needed).
set -euo pipefail
export AXIS_HOME=$PWD/axis-home

axis init
axis pki init
axis agency add 000.00.00.H53 --name "Ủy ban nhân dân tỉnh Tây Ninh"
axis agency add 000.00.01.H53 --name "Ủy ban nhân dân thành phố Tây Ninh"
axis agency add 000.01.01.H53 --name "Ủy ban nhân dân phường 1"
for code in 000.00.00.H53 000.00.01.H53 000.01.01.H53; do
  axis pki issue "$code" --out keys
done

axis serve > router.log 2>&1 &
trap 'kill %1' EXIT
for attempt in $(seq 30); do axis health > /dev/null && break; sleep 1; done

# The ward's clerk sends a report to the city and the province.
echo "Báo cáo tình hình quý IV" > bao-cao.txt
axis send --as 000.01.01.H53 --key keys/000.01.01.H53.key --cert keys/000.01.01.H53.pem \
  --to 000.00.01.H53 --to 000.00.00.H53 --subject "Báo cáo tình hình quý IV" \
  --number 15 --notation UBND-VP --priority 1 --attach bao-cao.txt | tee sent.txt
DOC=$(sed -n 's/^DocumentId: //p' sent.txt)
axis inbox 000.00.01.H53

# Each recipient's clerk pulls, verifies, saves and acknowledges (signed 01), then answers.
axis receive --as 000.00.01.H53 --p12 keys/000.00.01.H53.p12 --out received/city
axis status --as 000.00.01.H53 --p12 keys/000.00.01.H53.p12 "$DOC" 03
axis status --as 000.00.01.H53 --p12 keys/000.00.01.H53.p12 "$DOC" 06 \
  --description "Đã tổng hợp vào báo cáo của thành phố"
axis receive --as 000.00.00.H53 --p12 keys/000.00.00.H53.p12 --out received/province
axis status --as 000.00.00.H53 --p12 keys/000.00.00.H53.p12 "$DOC" 03

# The sender sees the statuses come back and where its document stands.
axis receive --as 000.01.01.H53 --p12 keys/000.01.01.H53.p12 --out received/ward --format csv
axis track "$DOC"
