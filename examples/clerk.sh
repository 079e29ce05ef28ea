#!/usr/bin/env bash
# A ward's, a city's and a province's clerks on one machine (embedded queues, no broker).
set -euo pipefail
export AXIS_HOME=$PWD/axis-home

axis init
axis pki init
cat > agencies.csv <<'CSV'
code,name
000.00.00.H53,Ủy ban nhân dân tỉnh Tây Ninh
000.00.01.H53,Ủy ban nhân dân thành phố Tây Ninh
000.01.01.H53,Ủy ban nhân dân phường 1
CSV
axis agency import agencies.csv
axis pki issue 000.01.01.H53 --out keys
axis pki issue 000.00.01.H53 --out keys

axis serve > router.log 2>&1 &
trap 'kill %1' EXIT
for attempt in $(seq 30); do axis health > /dev/null && break; sleep 1; done

# The ward's clerk sends a report to the city and the province.
echo "Báo cáo tình hình quý IV" > bao-cao.txt
axis send --as 000.01.01.H53 --key keys/000.01.01.H53.key --cert keys/000.01.01.H53.pem \
  --to 000.00.01.H53 --to 000.00.00.H53 --subject "Báo cáo tình hình quý IV" \
  --number 15 --notation UBND-VP --priority 1 --attach bao-cao.txt | tee sent.txt
DOC=$(sed -n 's/^DocumentId: //p' sent.txt)

# The city's clerk pulls, verifies, saves, acknowledges (signed 01), then answers.
axis receive --as 000.00.01.H53 --p12 keys/000.00.01.H53.p12 --out received/city
axis status --as 000.00.01.H53 --p12 keys/000.00.01.H53.p12 "$DOC" 03
axis status --as 000.00.01.H53 --p12 keys/000.00.01.H53.p12 "$DOC" 06 \
  --description "Đã tổng hợp vào báo cáo của thành phố"

# The province has not pulled yet; the ward sees the statuses and where its report is.
axis inbox 000.00.00.H53
axis receive --as 000.01.01.H53 --p12 keys/000.01.01.H53.p12 --out received/ward --format csv
axis track "$DOC"
