const sharp = require('sharp'); const fs = require('fs')
sharp.cache(false); sharp.concurrency(1)
const hwm = () => Math.round(Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status','utf8'))[1])/1024)
const rss = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status','utf8'))[1])/1024)
const v = process.argv[2]
;(async () => {
  const start = rss()
  for (let r = 0; r < 3; r++) {
    let s = sharp('/tmp/t/big.jpg', { sequentialRead: true, failOn: 'error', limitInputPixels: 4e7 })
    if (v === 'reencode') s = s.jpeg({ quality: 85 })
    if (v === 'resize') s = s.resize({ width: 2048, height: 2048, fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 85 })
    if (v === 'resize-w') s = s.resize({ width: 2048, withoutEnlargement: true }).jpeg({ quality: 85 })
    if (v === 'resize-half') s = s.resize({ width: 1500 }).jpeg({ quality: 85 })
    if (v === 'raw') s = s.raw()
    const chunks = []; for await (const c of s) chunks.push(c)
  }
  console.log(v, 'start', start, 'peak growth', hwm() - start)
})()
