(function(){var D=document,f=D.getElementById("tip"),m=D.getElementById("net");if(!f||!m||!window.fetch)return;var d,u=0,w=2e3,t,b=f.querySelector("[type=submit]");
function s(k){m.hidden=!1;m.textContent=m.getAttribute("data-"+k)}
function a(){u=0;s("w");t=setTimeout(g,w);w=Math.min(w*2,6e4)}
function g(){if(u)return;u=1;clearTimeout(t);s(navigator.onLine?"s":"w");
fetch(f.action,{method:"POST",body:d,credentials:"omit",cache:"no-store"}).then(function(r){if(r.status==413){u=d=0;b.disabled=!1;s("b")}else if(!r.headers.get("X-Tipline"))a();else return r.text().then(function(h){D.open();D.write(h);D.close();scroll(0,0)})}).catch(a)}
f.onsubmit=function(e){e.preventDefault();if(!d){d=new FormData(f);b.disabled=!0}g()};
ononline=function(){if(d){w=2e3;u||g()}}})();
