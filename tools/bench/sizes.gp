# SPDX-License-Identifier: MIT
# gnuplot -e "dir='build/bench'" tools/bench/sizes.gp: the performance.md plot
if (!exists("dir")) dir = "build/bench"
set terminal pngcairo size 900,560 noenhanced font ",11"
set output dir."/sizes.png"
set title "Closed-loop echo, 10 connections, QEMU -icount (1 vCPU, client + server)"
set xlabel "message size (bytes)"
set ylabel "guest instructions per echoed message"
set logscale xy
set format x "%.0s%cB"
set xtics ("64 B" 64, "512 B" 512, "4 KiB" 4096, "16 KiB" 16384, "64 KiB" 65536, "256 KiB" 262144, "1 MiB" 1048576)
set key top left
set grid
plot dir."/sizes.dat" using 1:2 with linespoints lw 2 title "kws (kernel ULP)", \
     "" using 1:3 with linespoints lw 2 title "libkws userspace codec", \
     "" using 1:4 with linespoints lw 2 title "libwebsockets 4.1.6", \
     "" using 1:5 with linespoints lw 2 dt 2 title "raw TCP echo (no framing)"
