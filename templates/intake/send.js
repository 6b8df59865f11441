(function(){var f=document.getElementById("tip"),m=document.getElementById("net");if(!f||!m||!window.fetch||!window.FormData)return;var data,busy=0,wait=2e3,timer;
function show(k){m.hidden=false;m.textContent=m.getAttribute(k)}
function go(){if(busy)return;busy=1;clearTimeout(timer);show(navigator.onLine===false?"data-w":"data-s");
fetch(f.action,{method:"POST",body:data,credentials:"omit",cache:"no-store"}).then(function(r){return r.text()}).then(function(h){document.open();document.write(h);document.close();scroll(0,0)},function(){busy=0;show("data-w");timer=setTimeout(go,wait);wait=Math.min(wait*2,6e4)})}
f.addEventListener("submit",function(e){e.preventDefault();if(!data){data=new FormData(f);f.querySelector("[type=submit]").disabled=true}go()});
addEventListener("online",function(){if(data){wait=2e3;busy||go()}})})();
